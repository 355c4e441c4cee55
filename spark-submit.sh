#!/usr/bin/env bash
# The one way to run a coldstart job, in local mode (default) or on a cluster.
#
#   ./spark-submit.sh                                   the demo: sample data -> output/sample
#   ./spark-submit.sh jobs/recommend.py --input DIR --output DIR [--set KEY=VALUE ...]
#   SPARK_MASTER=spark://host:7077 ./spark-submit.sh jobs/recommend.py ...
#
# Environment:
#   SPARK_MASTER               master URL (default local[*]): local[N], spark://..., yarn, k8s://...
#   SPARK_DEPLOY_MODE          client (default) or cluster
#   COLDSTART_PYENV_ARCHIVE    a venv-pack archive (.tar.gz) shipped to the executors with --archives
#                              and used as their Python (clusters whose nodes lack the packages)
#   COLDSTART_JDBC_JAR         JDBC driver jar (default: Debian's MariaDB Connector/J when installed)
#   COLDSTART_SPARK_OPTS       extra spark-submit options, split on whitespace (no quoting), placed after
#                              the script's own so they win, e.g.
#                              COLDSTART_SPARK_OPTS="--driver-memory 1g --conf spark.executor.memory=1g"
#   SPARK_HOME                 use that Spark installation's spark-submit instead of the venv's
#   COLDSTART_VENV             the virtualenv (default .venv next to this script)
#   COLDSTART_CDS              auto (default): in local mode, the main job's driver JVM loads its classes
#                              from a class-data archive (build/cds/, made at the end of the job's first
#                              run); on: the same for any job; off: never
#   COLDSTART_CDS_DIR          where the archives are kept (default build/cds next to this script)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# JVM options for the driver (in local mode: the whole application), after any the caller set
driver_jvm_opts() { SPARK_SUBMIT_OPTS="${SPARK_SUBMIT_OPTS:+$SPARK_SUBMIT_OPTS }$*"; export SPARK_SUBMIT_OPTS; }
venv="${COLDSTART_VENV:-$here/.venv}"
master="${SPARK_MASTER:-local[*]}"
deploy_mode="${SPARK_DEPLOY_MODE:-client}"

if [[ $# -eq 0 ]]; then
  sample="$here/data/sample"
  if [[ ! -f "$sample/users.csv" ]]; then
    echo "generating the sample dataset in $sample" >&2
    "$0" "$here/jobs/generate_data.py" --output "$sample"
  fi
  exec "$0" "$here/jobs/recommend.py" --input "$sample" --output "$here/output/sample"
fi

job="$1"; shift
[[ -f "$job" ]] || { echo "error: no such job script: $job" >&2; exit 2; }

if [[ -n "${SPARK_HOME:-}" && -x "$SPARK_HOME/bin/spark-submit" ]]; then
  submit="$SPARK_HOME/bin/spark-submit"
elif [[ -x "$venv/bin/spark-submit" ]]; then
  submit="$venv/bin/spark-submit"
else
  echo "error: no spark-submit: run 'make venv' (or set SPARK_HOME)" >&2; exit 2
fi

# the driver (and local-mode workers) use the venv's Python, not whatever python3 is on PATH
if [[ -x "$venv/bin/python" ]]; then
  export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$venv/bin/python}"
  export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$venv/bin/python}"
fi

# Class-data sharing (CDS) for the driver JVM in local mode. A run spends several seconds of CPU
# loading and verifying Spark's classes; a dynamic archive of them, written at the end of a first
# run, is mapped by later runs instead (measured at 100k users: 47.4 -> 40.0 s, BENCHMARKS.md).
# The JVM accepts an archive only for the class path it was made with, and only if no non-empty
# directory is on it: the conf directory leaves the class path (the Spark defaults go by
# --properties-file, log4j's file by a system property), and the archive's name holds a
# fingerprint of the Java and Spark installations and of this checkout.
cds_mode="${COLDSTART_CDS:-auto}"
case "$cds_mode" in auto|on|off) ;; *) echo "error: COLDSTART_CDS must be auto, on or off" >&2; exit 2 ;; esac
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/java}"
java_bin="${java_bin:-$(command -v java || true)}"
if [[ "$submit" == "$venv/bin/spark-submit" ]]; then
  jars_dir="$(compgen -G "$venv/lib/python3*/site-packages/pyspark/jars" | head -n 1 || true)"
else
  jars_dir="$SPARK_HOME/jars"
fi
archive=""
if [[ "$cds_mode" == on || ( "$cds_mode" == auto && "$(basename "$job")" == recommend.py ) ]] \
    && [[ "$master" == local* && "$deploy_mode" == client && -z "${SPARK_CONF_DIR:-}" \
          && -z "${HADOOP_CONF_DIR:-}" && -z "${YARN_CONF_DIR:-}" && -x "$java_bin" && -d "$jars_dir" ]]; then
  export SPARK_CONF_DIR="$here/build/spark-conf"  # empty: CDS refuses a non-empty directory
  mkdir -p "$SPARK_CONF_DIR"
  fingerprint="$( { echo "$here"; ls -lL --full-time "$(readlink -f "$java_bin")" "$jars_dir"; } | md5sum | cut -c1-12)"
  cds_dir="${COLDSTART_CDS_DIR:-$here/build/cds}"
  mkdir -p "$cds_dir"
  archive="$cds_dir/$(basename "$job" .py)-$fingerprint.jsa"
  driver_jvm_opts "-Dlog4j2.configurationFile=file:$here/conf/log4j2.properties"
else
  export SPARK_CONF_DIR="${SPARK_CONF_DIR:-$here/conf}"
fi
if [[ "$master" == local* ]]; then
  export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
fi

# The driver JVM's JIT: no optimising (C2) compiles for code run once per query or task, not per
# row (conf/jit-directives.json says which; measured at 1M users: -10% CPU). In client mode only:
# a driver started on the cluster has no such file. The JVM refuses to start on a malformed file,
# and prints how many directives it added: to stderr, not among the job's results.
if [[ "$deploy_mode" == client ]]; then
  driver_jvm_opts -XX:+UnlockDiagnosticVMOptions "-XX:CompilerDirectivesFile=$here/conf/jit-directives.json" \
    -XX:+DisplayVMOutputToStderr
fi

# the package travels to the executors as a zip built from the working tree
mkdir -p "$here/build"
zip_file="$here/build/coldstart.zip"
# (with the default config and SQL schema under coldstart/_conf/, for a driver in the cluster);
# a temp name per process, so that two runs started together do not write the same file
( cd "$here" && "${PYSPARK_PYTHON:-python3}" - "$zip_file" <<'PY'
import os, sys, zipfile, pathlib
tmp = pathlib.Path(f"{sys.argv[1]}.{os.getpid()}.tmp")
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for path in sorted(pathlib.Path("coldstart").rglob("*.py")):
        z.write(path)
    for path in ("conf/coldstart.toml", "conf/sql/schema.sql"):
        z.write(path, f"coldstart/_conf/{path}")
tmp.replace(sys.argv[1])
PY
)

args=(--master "$master" --deploy-mode "$deploy_mode" --py-files "$zip_file"
      --files "$here/conf/coldstart.toml")

if [[ -n "$archive" ]]; then
  # conf/ is not SPARK_CONF_DIR here (see above); before COLDSTART_SPARK_OPTS, which may name another
  args+=(--properties-file "$here/conf/spark-defaults.conf")
fi

jdbc_jar="${COLDSTART_JDBC_JAR:-/usr/share/java/mariadb-java-client.jar}"
if [[ -f "$jdbc_jar" ]]; then
  args+=(--jars "$jdbc_jar")
fi

if [[ -n "${COLDSTART_PYENV_ARCHIVE:-}" ]]; then
  # executors unpack the packed venv as ./pyenv and run its interpreter
  args+=(--archives "${COLDSTART_PYENV_ARCHIVE}#pyenv"
         --conf spark.pyspark.python=./pyenv/bin/python)
  if [[ "$deploy_mode" == cluster ]]; then
    args+=(--conf spark.pyspark.driver.python=./pyenv/bin/python)
  else
    # the driver runs here; without this, spark.pyspark.python (a path inside the executors'
    # working directory) wins over PYSPARK_DRIVER_PYTHON and the driver fails to start
    args+=(--conf "spark.pyspark.driver.python=${PYSPARK_DRIVER_PYTHON:-python3}")
  fi
fi

if [[ -n "${COLDSTART_SPARK_OPTS:-}" ]]; then
  # word splitting is the point: one string holds several options (newlines count as spaces)
  read -r -d '' -a extra_opts <<< "$COLDSTART_SPARK_OPTS" || true
  args+=("${extra_opts[@]}")
fi

if [[ -z "$archive" ]]; then
  exec "$submit" "${args[@]}" "$job" "$@"
fi
if [[ -f "$archive" ]]; then
  driver_jvm_opts "-XX:SharedArchiveFile=$archive"
  exec "$submit" "${args[@]}" "$job" "$@"
fi
# first run: the JVM writes the archive as it exits (a temp name per process, kept only if the job
# succeeded); its warnings about classes it cannot archive are expected and silenced
echo "coldstart: writing the driver's class-data archive at the end of this run (once): $archive" >&2
tmp_archive="$archive.$$.tmp"
trap 'rm -f "$tmp_archive"' EXIT
driver_jvm_opts "-XX:ArchiveClassesAtExit=$tmp_archive" -Xlog:cds=off -Xlog:cds+dynamic=off
status=0
"$submit" "${args[@]}" "$job" "$@" || status=$?
if [[ $status -eq 0 && -s "$tmp_archive" ]]; then
  mv -f "$tmp_archive" "$archive"
fi
exit "$status"

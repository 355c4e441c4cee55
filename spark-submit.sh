#!/usr/bin/env bash
# The one way to run a coldstart job: spark-submit with the project's conf/, the package and the JDBC driver.
#
#   ./spark-submit.sh                                   the demo: sample data -> output/sample
#   ./spark-submit.sh jobs/recommend.py --input DIR --output DIR [--set KEY=VALUE ...]
#   SPARK_MASTER=spark://host:7077 ./spark-submit.sh jobs/recommend.py ...
#
# Environment:
#   SPARK_MASTER             master URL (default local[*]): local[N], spark://..., yarn, k8s://...
#   SPARK_DEPLOY_MODE        client (default) or cluster
#   SPARK_CONF_DIR           Spark's conf directory (default: conf/ of this checkout)
#   SPARK_HOME               a Spark installation whose spark-submit to use (default: the venv's pyspark)
#   COLDSTART_VENV           the virtualenv (default .venv next to this script)
#   COLDSTART_PYENV_ARCHIVE  a venv-pack archive (.tar.gz) shipped with --archives, the executors' Python
#   COLDSTART_JDBC_JAR       JDBC driver jar (default: Debian's MariaDB Connector/J when installed)
#   COLDSTART_SPARK_OPTS     extra spark-submit options, split on whitespace, placed last so they win, e.g.
#                            COLDSTART_SPARK_OPTS="--driver-memory 2g --conf spark.sql.shuffle.partitions=64"
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
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
export SPARK_CONF_DIR="${SPARK_CONF_DIR:-$here/conf}"
if [[ "$master" == local* ]]; then
  export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
fi

# The package travels to the executors (and to a driver in the cluster) as a zip of the working tree,
# with the default config and SQL schema under coldstart/_conf/. A temp name per process: two runs
# started together do not write the same file.
mkdir -p "$here/build"
zip_file="$here/build/coldstart.zip"
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

args=(--master "$master" --deploy-mode "$deploy_mode" --py-files "$zip_file" --files "$here/conf/coldstart.toml")

jdbc_jar="${COLDSTART_JDBC_JAR:-/usr/share/java/mariadb-java-client.jar}"
if [[ -f "$jdbc_jar" ]]; then
  args+=(--jars "$jdbc_jar")
fi

if [[ -n "${COLDSTART_PYENV_ARCHIVE:-}" ]]; then
  # executors unpack the packed venv as ./pyenv and run its interpreter
  args+=(--archives "${COLDSTART_PYENV_ARCHIVE}#pyenv" --conf spark.pyspark.python=./pyenv/bin/python)
  if [[ "$deploy_mode" == cluster ]]; then
    args+=(--conf spark.pyspark.driver.python=./pyenv/bin/python)
  else
    # the driver runs here: without this, spark.pyspark.python (a path inside the executors'
    # working directory) wins over PYSPARK_DRIVER_PYTHON and the driver fails to start
    args+=(--conf "spark.pyspark.driver.python=${PYSPARK_DRIVER_PYTHON:-python3}")
  fi
fi

if [[ -n "${COLDSTART_SPARK_OPTS:-}" ]]; then
  # word splitting is the point: one string holds several options (newlines count as spaces)
  read -r -d '' -a extra_opts <<< "$COLDSTART_SPARK_OPTS" || true
  args+=("${extra_opts[@]}")
fi

exec "$submit" "${args[@]}" "$job" "$@"

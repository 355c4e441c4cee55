"""coldstart: cold-start workout recommendations per segment, on Spark."""

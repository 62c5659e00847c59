"""The Spark engine (``assess --engine spark``, the ``spark`` extra): the same pipeline for
exports beyond one machine.

The scan runs in Spark's executors over raw lines (:mod:`.executor`), with the embedded
engine's own code; the identity pairs stay in the cluster, where they are grouped and matched
to the directory with Spark SQL (:mod:`.tables`, :mod:`.match`); only aggregates and findings
come back to the driver, whose outputs the usual writers write. Results are identical to the
embedded engine's, which a conformance suite checks file by file.

Importing this package does not import PySpark; starting a session does.
"""

from breachdesk.engine.spark.scan import SparkInput, scan_on_spark
from breachdesk.engine.spark.session import spark_session
from breachdesk.engine.spark.tables import SparkEngine

__all__ = ["SparkEngine", "SparkInput", "scan_on_spark", "spark_session"]

"""Detection: rules as data, their validators, URL analysis and the field classifier."""

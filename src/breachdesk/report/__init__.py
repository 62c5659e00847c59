"""Writing the workspace's outputs: impact.json, CSV tables and report.html."""

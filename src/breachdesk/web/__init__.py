"""The web faces of the desk: the response team's dashboard (login, roles, the incident's
live picture) and the separate public page where a reader checks a notice's reference."""

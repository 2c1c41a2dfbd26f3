"""Workspace checks (pure: ast and xml.etree): true package dependencies and import boundaries."""

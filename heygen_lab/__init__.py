"""heygen_lab: upload to HeyGen by every documented route, and know why an upload fails."""

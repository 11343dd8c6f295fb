"""Text units: sentence boundaries, abbreviation detection."""

"""HTTP faces: the office's admin API and the public consent pages (Powertools event handler)."""

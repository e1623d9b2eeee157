"""Ice-style properties, the site (prefix), endpoint and proxy strings."""

"""Ice-style properties, the site (prefix), endpoint and proxy strings.

properties      property files, `--Key=Value` overrides, typed getters (errors name file:line:key)
property_names  the table of known property names; unknown_properties / ignored_properties
endpoints       the one parser of Ice endpoint and proxy strings
site            the site layout, find_site, the config lists of the master and other nodes

Import from the modules themselves: this package imports none of them, so that a command that
needs the site does not also load the property-name table.
"""

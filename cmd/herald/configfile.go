package main

// resolveFile turns the settings read from the config file at path into
// settings by their environment names, and the warnings about them.
func resolveFile(path string, vals map[string]string) (map[string]string, []string) {
	return vals, nil
}

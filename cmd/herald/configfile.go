package main

import (
	"fmt"

	"github.com/heraldhq/herald/internal/envfile"
)

// fileAliases are the names the design documents' .env gives settings,
// accepted in a --config file so that file works unchanged: its WS_PORT is
// Herald's PORT.
var fileAliases = map[string]string{"WS_PORT": "PORT"}

// knownFileKey reports whether a config file may set key: a setting or an
// alias of one.
func knownFileKey(key string) bool {
	_, alias := fileAliases[key]
	return alias || knownSetting(key)
}

// readConfigFile reads the --config file at path: its settings by their
// Herald names, and warnings for what it holds that Herald does not read.
// Unknown keys warn instead of failing, since a project's .env also holds
// other programs' settings; the warning names each, so a typo is seen.
func readConfigFile(path string) (map[string]string, []string, error) {
	vals, unknown, err := envfile.ReadFile(path, knownFileKey)
	if err != nil {
		return nil, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	var warnings []string
	for _, u := range unknown {
		warnings = append(warnings, fmt.Sprintf("config file %s line %d: %s is not a Herald setting and is ignored (herald help lists them)", path, u.Line, u.Key))
	}
	for alias, name := range fileAliases {
		v, ok := vals[alias]
		if !ok {
			continue
		}
		delete(vals, alias)
		if _, both := vals[name]; both {
			warnings = append(warnings, fmt.Sprintf("config file %s: %s and %s both set; %s wins", path, alias, name, name))
			continue
		}
		vals[name] = v
	}
	return vals, warnings, nil
}

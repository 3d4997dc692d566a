package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsonscan"
)

// maxSettingFileBytes bounds the files settings name (events, delivery
// policies; --config and the key files have the same bound in their own
// packages): far more than any real one, little enough that naming
// /dev/zero or a log file by mistake fails at start instead of filling memory.
const maxSettingFileBytes = 1 << 20

// maxSettingFileDepth bounds the nesting of the JSON setting files: event
// templates and delivery policies nest four deep.
const maxSettingFileDepth = 32

// readJSONSettingFile reads a JSON setting file and checks it is one object
// of valid UTF-8 (a decoder would quietly replace broken bytes), nested at
// most maxSettingFileDepth deep, naming each event or type once: a name
// given twice would silently keep only one of its definitions.
func readJSONSettingFile(setting, path string) ([]byte, error) {
	data, err := readSettingFile(setting, path)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s %s: not valid UTF-8", setting, path)
	}
	if jsonscan.Exceeds(data, maxSettingFileDepth) {
		return nil, fmt.Errorf("%s %s: nested deeper than %d levels", setting, path, maxSettingFileDepth)
	}
	var dup *jsonscan.DuplicateError
	switch err := jsonscan.Members(data, 0, nil); {
	case errors.As(err, &dup):
		return nil, fmt.Errorf("%s %s: %q is defined more than once", setting, path, dup.Name)
	case err != nil:
		return nil, fmt.Errorf("%s %s: not one valid JSON object", setting, path)
	}
	return data, nil
}

// readSettingFile reads the file setting names, refusing one larger than
// maxSettingFileBytes. Errors name the setting and the file.
func readSettingFile(setting, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSettingFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", setting, path, err)
	}
	if len(data) > maxSettingFileBytes {
		return nil, fmt.Errorf("%s %s: larger than %d bytes", setting, path, maxSettingFileBytes)
	}
	return data, nil
}

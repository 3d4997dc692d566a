package main

import (
	"fmt"
	"io"
	"os"
)

// maxSettingFileBytes bounds the files settings name (events, delivery
// policies; --config and the key files have the same bound in their own
// packages): far more than any real one, little enough that naming
// /dev/zero or a log file by mistake fails at start instead of filling memory.
const maxSettingFileBytes = 1 << 20

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

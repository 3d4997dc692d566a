package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRedisSettingsRefused: each Redis form is checked at start, with an
// error naming the setting to fix and never quoting a password.
func TestRedisSettingsRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REDIS_URL": "http://x:1"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://h:1/0", "REDIS_CLUSTER_ADDRS": "h:2"}, "one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_SENTINELS": "h:1,h:2"}, "REDIS_MASTER_NAME"},
		{map[string]string{"REDIS_MASTER_NAME": "m"}, "needs Redis"},
		{map[string]string{"REDIS_PASSWORD": "s3cretPW"}, "needs Redis"},
		{map[string]string{"REDIS_URL": "redis://h:1/0", "REDIS_PASSWORD": "s3cretPW"}, "REDIS_PASSWORD is for"},
		{map[string]string{"REDIS_URL": "redis://h:1/0", "REDIS_SENTINEL_PASSWORD": "s3cretPW"}, "REDIS_SENTINEL_PASSWORD"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "h:1,nohost"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_URL": "redis-sentinel://:s3cretPW@h:1"}, "names the primary"},
		{map[string]string{"REDIS_URL": "redis-cluster://h:1", "HERALD_REDIS_PREFIX": "{app}:"}, "must not hold { or }"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "h:1", "DATABASE_URL": ""}, "DATABASE_URL"},
	} {
		env := procEnv(t.TempDir() + "/herald.db")
		env["DATABASE_URL"] = "postgres://127.0.0.1:1/x"
		for k, v := range tc.env {
			env[k] = v
		}
		if env["DATABASE_URL"] == "" {
			delete(env, "DATABASE_URL")
		}
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"serve"}, mapEnv(env), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.env, err, tc.want)
			continue
		}
		if strings.Contains(err.Error()+stderr.String(), "s3cretPW") {
			t.Errorf("%v: the password is in %q", tc.env, err.Error()+stderr.String())
		}
	}
}

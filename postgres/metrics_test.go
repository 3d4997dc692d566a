package postgres_test

import (
	"testing"

	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func TestCommitMetrics(t *testing.T) {
	storetest.RunCommitMetrics(t, func(t *testing.T) storetest.CommitStore { return open(t, postgres.Config{}) })
}

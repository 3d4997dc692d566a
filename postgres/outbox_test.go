package postgres_test

import (
	"testing"

	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func TestOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return open(t, postgres.Config{}) })
}

func TestTopics(t *testing.T) {
	storetest.RunTopics(t, func(t *testing.T) storetest.TopicsStore { return open(t, postgres.Config{}) })
}

package memory_test

import (
	"testing"

	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/storetest"
)

func TestOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return memory.NewStore(memory.Config{}) })
}

func TestTopics(t *testing.T) {
	storetest.RunTopics(t, func(t *testing.T) storetest.TopicsStore { return memory.NewStore(memory.Config{}) })
}

package memory_test

import (
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store {
		return memory.NewStore(memory.Config{})
	})
}

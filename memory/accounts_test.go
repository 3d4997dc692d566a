package memory_test

import (
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/storetest"
)

func TestAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) herald.AccountStore {
		return memory.NewAccounts(memory.Config{})
	})
}

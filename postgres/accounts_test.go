package postgres_test

import (
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func TestAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) herald.AccountStore { return open(t, postgres.Config{}) })
}

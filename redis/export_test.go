package redis

// SlotOf exposes slotOf to the tests of package redis_test, which place
// users on chosen shards.
var SlotOf = slotOf

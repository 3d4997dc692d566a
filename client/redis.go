package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCache is a Cache in Redis, shared by every backend instance that
// uses the same server and Prefix: one of them logs in or refreshes, the
// others read the tokens it stored. Each key's Redis TTL is the token's
// cache lifetime, so an expired token disappears by itself.
type RedisCache struct {
	// Client is the Redis connection (required).
	Client redis.UniversalClient
	// Prefix starts every key, e.g. "myapp:herald:" (default "herald:client:").
	Prefix string
	// LockPoll is how often a waiting Lock retries (default 50ms).
	LockPoll time.Duration
}

func (r *RedisCache) key(k string) string {
	if r.Prefix == "" {
		return "herald:client:" + k
	}
	return r.Prefix + k
}

// Get implements Cache.
func (r *RedisCache) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.Client.Get(ctx, r.key(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// Set implements Cache. A ttl of zero or less deletes the key.
func (r *RedisCache) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl <= 0 {
		return r.Client.Del(ctx, r.key(key)).Err()
	}
	return r.Client.Set(ctx, r.key(key), value, ttl).Err()
}

// compareAndDelete deletes KEYS[1] when it holds ARGV[1], atomically.
var compareAndDelete = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// CompareAndDelete implements Cache.
func (r *RedisCache) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	n, err := compareAndDelete.Run(ctx, r.Client, []string{r.key(key)}, value).Int()
	return n == 1, err
}

// Lock implements Cache with SET NX PX: the holder stores a random value,
// and releases the lock only if it still holds that value.
func (r *RedisCache) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	owner := hex.EncodeToString(b)
	k := r.key(key)
	poll := r.LockPoll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	for {
		ok, err := r.Client.SetNX(ctx, k, owner, ttl).Result()
		if err != nil {
			return nil, err
		}
		if ok {
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = compareAndDelete.Run(ctx, r.Client, []string{k}, owner).Err()
			}, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

package main

import (
	"context"
	"strconv"
	"time"

	"github.com/heraldhq/herald/inbox"
)

// TopicsConfig is the topic fan-out.
type TopicsConfig struct {
	Chunk int
	Poll  time.Duration
}

// topicSettings are the settings of the topic fan-out.
var topicSettings = []setting{
	{"HERALD_TOPIC_CHUNK", "topic-chunk", strconv.Itoa(inbox.DefaultTopicChunk), "members one topic fan-out transaction serves"},
	{"HERALD_TOPIC_POLL", "topic-poll", inbox.DefaultTopicPoll.String(), "how often a node looks for topic notifications left mid-way (by a crash) to resume"},
}

func parseTopics(p *parser, c *Config) {
	c.Topics.Chunk = p.int("HERALD_TOPIC_CHUNK", 1, 100000)
	c.Topics.Poll = p.dur("HERALD_TOPIC_POLL", time.Nanosecond)
}

// startTopics runs the topic fan-out until ctx ends; the returned function
// waits for it, so the store closes after its last chunk.
func (a *app) startTopics(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.inbox.Run(ctx)
	}()
	return func() { <-done }
}

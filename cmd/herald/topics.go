package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldhq/herald/inbox"
)

// topicSettings are the settings of the topic fan-out.
var topicSettings = []setting{
	{"HERALD_TOPIC_CHUNK", "topic-chunk", strconv.Itoa(inbox.DefaultTopicChunk), "members one topic fan-out transaction serves"},
	{"HERALD_TOPIC_POLL", "topic-poll", inbox.DefaultTopicPoll.String(), "how often a node looks for topic notifications left mid-way (by a crash) to resume"},
}

func init() { settings = append(settings, topicSettings...) }

// topicConfig reads the topic settings into c.
func topicConfig(cfg config, c *inbox.Config) error {
	chunk, err := strconv.Atoi(cfg.str("HERALD_TOPIC_CHUNK"))
	if err != nil || chunk < 1 || chunk > 100000 {
		return fmt.Errorf("HERALD_TOPIC_CHUNK must be an integer from 1 to 100000, got %q", cfg.str("HERALD_TOPIC_CHUNK"))
	}
	poll, err := time.ParseDuration(cfg.str("HERALD_TOPIC_POLL"))
	if err != nil || poll <= 0 {
		return fmt.Errorf("HERALD_TOPIC_POLL must be a positive duration such as 1s, got %q", cfg.str("HERALD_TOPIC_POLL"))
	}
	c.TopicChunk, c.TopicPoll = chunk, poll
	return nil
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

'use strict';

// PostHog has the two methods Artillery calls, and sends nothing.
class PostHog {
  capture() {}

  async shutdownAsync() {}
}

module.exports = { PostHog };

"""The job event on SNS: build it from a final job, publish it once per final state."""

"""The payment lifecycle: intake, pipeline, timeline, lists, exports and pages."""

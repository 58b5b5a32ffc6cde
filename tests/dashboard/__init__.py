"""Tests of the status dashboard: its pages over HTTP, and end to end in a headless Chromium."""

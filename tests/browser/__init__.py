"""Tests in a real browser: headless Chromium over the DevTools protocol."""

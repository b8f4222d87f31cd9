"""Helpers the tests share (imported as ``tests.support.<module>``): servers started as real processes,
hostile raw-socket servers, the BEIR-layout evaluation fixture."""

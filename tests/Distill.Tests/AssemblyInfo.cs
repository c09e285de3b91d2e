// Test classes share libtorch's process-wide RNG and its thread pool: run them one at a time so seeded tests are
// reproducible and timings are not skewed by two trainings fighting over 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

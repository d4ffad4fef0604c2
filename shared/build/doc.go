// Package build is the build function's handler: a push event from the
// builds queue becomes, for every app whose source it matches, an image
// built without a container runtime and pushed by digest. The registry then
// announces the image, which starts its promotion; the builder itself
// enqueues nothing.
package build

// Package source checks out the exact commit a push names, shallowly, into
// a directory the caller removes: the build context.
package source

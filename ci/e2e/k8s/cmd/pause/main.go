// Command pause is the pod sandbox image of the end-to-end cluster: it holds
// the pod's namespaces open until it is told to stop, as registry.k8s.io/pause
// does, and is built here so that no image is pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	// As PID 1 of the pod it also reaps orphans; SIGCHLD needs no handling
	// beyond being received, since Go's runtime does not leave zombies of its
	// own and the sandbox runs no other process.
	<-stop
}

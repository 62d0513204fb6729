package relay_test

import (
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/relay"
)

// The engine is what ticketd hands the relay.
var _ relay.Engine = (*engine.Engine)(nil)

package amqp

import "strings"

// Class ids.
const (
	classConnection = 10
	classChannel    = 20
	classExchange   = 40
	classQueue      = 50
	classBasic      = 60
	classConfirm    = 85
	classTx         = 90
)

// Basic method ids the dissector treats specially.
const (
	basicConsume      = 20
	basicCancel       = 30
	basicPublish      = 40
	basicReturn       = 50
	basicDeliver      = 60
	basicGet          = 70
	basicGetOk        = 71
	basicGetEmpty     = 72
	basicAck          = 80
	basicReject       = 90
	basicRecoverAsync = 100
	basicNack         = 120
)

type class struct {
	name    string
	methods map[uint16]string
}

// classes names classes and methods as the AMQP 0-9-1 specification (and
// Wireshark) spell them, with RabbitMQ's extensions.
var classes = map[uint16]class{
	classConnection: {"Connection", map[uint16]string{10: "Start", 11: "Start-Ok", 20: "Secure", 21: "Secure-Ok", 30: "Tune", 31: "Tune-Ok", 40: "Open", 41: "Open-Ok", 50: "Close", 51: "Close-Ok", 60: "Blocked", 61: "Unblocked"}},
	classChannel:    {"Channel", map[uint16]string{10: "Open", 11: "Open-Ok", 20: "Flow", 21: "Flow-Ok", 40: "Close", 41: "Close-Ok"}},
	classExchange:   {"Exchange", map[uint16]string{10: "Declare", 11: "Declare-Ok", 20: "Delete", 21: "Delete-Ok", 30: "Bind", 31: "Bind-Ok", 40: "Unbind", 51: "Unbind-Ok"}},
	classQueue:      {"Queue", map[uint16]string{10: "Declare", 11: "Declare-Ok", 20: "Bind", 21: "Bind-Ok", 30: "Purge", 31: "Purge-Ok", 40: "Delete", 41: "Delete-Ok", 50: "Unbind", 51: "Unbind-Ok"}},
	classBasic:      {"Basic", map[uint16]string{10: "Qos", 11: "Qos-Ok", 20: "Consume", 21: "Consume-Ok", 30: "Cancel", 31: "Cancel-Ok", 40: "Publish", 50: "Return", 60: "Deliver", 70: "Get", 71: "Get-Ok", 72: "Get-Empty", 80: "Ack", 90: "Reject", 100: "Recover-Async", 110: "Recover", 111: "Recover-Ok", 120: "Nack"}},
	classConfirm:    {"Confirm", map[uint16]string{10: "Select", 11: "Select-Ok"}},
	classTx:         {"Tx", map[uint16]string{10: "Select", 11: "Select-Ok", 20: "Commit", 21: "Commit-Ok", 30: "Rollback", 31: "Rollback-Ok"}},
}

// methodName returns "Class.Method" and whether both ids are known.
func methodName(cls, mth uint16) (string, bool) {
	c, ok := classes[cls]
	if !ok {
		return "Class" + itoa(int(cls)) + ".Method" + itoa(int(mth)), false
	}
	m, ok := c.methods[mth]
	if !ok {
		return c.name + ".Method" + itoa(int(mth)), false
	}
	return c.name + "." + m, true
}

// isReply reports methods that answer an earlier method.
func isReply(cls, mth uint16) bool {
	n := classes[cls].methods[mth]
	return strings.HasSuffix(n, "-Ok") || strings.HasSuffix(n, "-Empty")
}

// answers reports whether reply (cls, rep) answers request method req.
func answers(cls, req, rep uint16) bool {
	switch {
	case cls == classBasic && req == basicGet:
		return rep == basicGetOk || rep == basicGetEmpty
	case cls == classExchange && req == 40:
		return rep == 51
	}
	return rep == req+1
}

// asynchronous methods get no reply.
func asynchronous(cls, mth uint16) bool {
	if cls == classConnection {
		return mth == 60 || mth == 61
	}
	if cls != classBasic {
		return false
	}
	switch mth {
	case basicPublish, basicReturn, basicDeliver, basicAck, basicReject, basicRecoverAsync, basicNack:
		return true
	}
	return false
}

// carriesContent reports methods followed by a content header and body.
func carriesContent(cls, mth uint16) bool {
	return cls == classBasic && (mth == basicPublish || mth == basicReturn || mth == basicDeliver || mth == basicGetOk)
}

// fromServer reports methods only a broker sends.
func fromServer(cls, mth uint16) bool {
	switch cls {
	case classConnection:
		return mth == 10 || mth == 20 || mth == 30 || mth == 41
	case classChannel:
		return mth == 11
	case classExchange, classQueue, classTx, classConfirm:
		return mth%10 == 1 || cls == classExchange && mth == 51
	case classBasic:
		switch mth {
		case 11, 21, 31, basicReturn, basicDeliver, basicGetOk, basicGetEmpty, 111:
			return true
		}
	}
	return false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

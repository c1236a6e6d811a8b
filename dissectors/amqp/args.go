package amqp

import "github.com/kubeshark-wasm/kubeshark/sdk"

// method is a decoded method frame.
type method struct {
	cls, id     uint16
	name        string
	exchange    string
	routingKey  string
	queue       string
	consumerTag string
	replyCode   int
	replyText   string
	deliveryTag uint64
	hasTag      bool
	noWait      bool
	args        sdk.Object // other arguments worth showing
	malformed   bool
}

// parseMethod decodes a method frame payload. Arguments that do not fit
// leave malformed set; what was read before stays.
func parseMethod(p []byte) *method {
	r := &reader{b: p}
	m := &method{cls: r.u16(), id: r.u16()}
	m.name, _ = methodName(m.cls, m.id)
	set := func(k string, v any) {
		m.args = append(m.args, sdk.Member{Key: k, Value: v})
	}
	closeArgs := func() {
		m.replyCode = int(r.u16())
		m.replyText = r.shortstr()
		set("failing_class_id", int(r.u16()))
		set("failing_method_id", int(r.u16()))
	}
	switch m.cls {
	case classConnection:
		switch m.id {
		case 10:
			set("version", itoa(int(r.u8()))+"-"+itoa(int(r.u8())))
			set("server_properties", r.table(0))
			set("mechanisms", text(r.longstr()))
			set("locales", text(r.longstr()))
		case 11:
			set("client_properties", r.table(0))
			set("mechanism", r.shortstr())
			r.longstr() // the credentials stay out of the record
			set("locale", r.shortstr())
		case 30, 31:
			set("channel_max", int(r.u16()))
			set("frame_max", int(r.u32()))
			set("heartbeat", int(r.u16()))
		case 40:
			set("virtual_host", r.shortstr())
		case 50:
			closeArgs()
		case 60:
			set("reason", r.shortstr())
		}
	case classChannel:
		switch m.id {
		case 20, 21:
			set("active", r.bit())
		case 40:
			closeArgs()
		}
	case classExchange:
		switch m.id {
		case 10:
			r.u16()
			m.exchange = r.shortstr()
			set("type", r.shortstr())
			set("passive", r.bit())
			set("durable", r.bit())
			set("auto_delete", r.bit())
			set("internal", r.bit())
			m.noWait = r.bit()
			set("arguments", r.table(0))
		case 20:
			r.u16()
			m.exchange = r.shortstr()
			set("if_unused", r.bit())
			m.noWait = r.bit()
		case 30, 40:
			r.u16()
			m.exchange = r.shortstr() // the destination
			set("source", r.shortstr())
			m.routingKey = r.shortstr()
			m.noWait = r.bit()
			set("arguments", r.table(0))
		}
	case classQueue:
		switch m.id {
		case 10:
			r.u16()
			m.queue = r.shortstr()
			set("passive", r.bit())
			set("durable", r.bit())
			set("exclusive", r.bit())
			set("auto_delete", r.bit())
			m.noWait = r.bit()
			set("arguments", r.table(0))
		case 11:
			m.queue = r.shortstr()
			set("message_count", int(r.u32()))
			set("consumer_count", int(r.u32()))
		case 20:
			r.u16()
			m.queue = r.shortstr()
			m.exchange = r.shortstr()
			m.routingKey = r.shortstr()
			m.noWait = r.bit()
			set("arguments", r.table(0))
		case 30:
			r.u16()
			m.queue = r.shortstr()
			m.noWait = r.bit()
		case 31, 41:
			set("message_count", int(r.u32()))
		case 40:
			r.u16()
			m.queue = r.shortstr()
			set("if_unused", r.bit())
			set("if_empty", r.bit())
			m.noWait = r.bit()
		case 50:
			r.u16()
			m.queue = r.shortstr()
			m.exchange = r.shortstr()
			m.routingKey = r.shortstr()
			set("arguments", r.table(0))
		}
	case classBasic:
		switch m.id {
		case 10:
			set("prefetch_size", int(r.u32()))
			set("prefetch_count", int(r.u16()))
			set("global", r.bit())
		case basicConsume:
			r.u16()
			m.queue = r.shortstr()
			m.consumerTag = r.shortstr()
			set("no_local", r.bit())
			set("no_ack", r.bit())
			set("exclusive", r.bit())
			m.noWait = r.bit()
			set("arguments", r.table(0))
		case 21, 31:
			m.consumerTag = r.shortstr()
		case basicCancel:
			m.consumerTag = r.shortstr()
			m.noWait = r.bit()
		case basicPublish:
			r.u16()
			m.exchange = r.shortstr()
			m.routingKey = r.shortstr()
			set("mandatory", r.bit())
			set("immediate", r.bit())
		case basicReturn:
			m.replyCode = int(r.u16())
			m.replyText = r.shortstr()
			m.exchange = r.shortstr()
			m.routingKey = r.shortstr()
		case basicDeliver:
			m.consumerTag = r.shortstr()
			m.deliveryTag, m.hasTag = r.u64(), true
			set("redelivered", r.bit())
			m.exchange = r.shortstr()
			m.routingKey = r.shortstr()
		case basicGet:
			r.u16()
			m.queue = r.shortstr()
			set("no_ack", r.bit())
		case basicGetOk:
			m.deliveryTag, m.hasTag = r.u64(), true
			set("redelivered", r.bit())
			m.exchange = r.shortstr()
			m.routingKey = r.shortstr()
			set("message_count", int(r.u32()))
		case basicAck:
			m.deliveryTag, m.hasTag = r.u64(), true
			set("multiple", r.bit())
		case basicReject:
			m.deliveryTag, m.hasTag = r.u64(), true
			set("requeue", r.bit())
		case basicNack:
			m.deliveryTag, m.hasTag = r.u64(), true
			set("multiple", r.bit())
			set("requeue", r.bit())
		case basicRecoverAsync, 110:
			set("requeue", r.bit())
		}
	case classConfirm:
		if m.id == 10 {
			m.noWait = r.bit()
		}
	}
	m.malformed = !r.ok()
	return m
}

// path is the record's Path for the method.
func (m *method) path() string {
	switch {
	case m.cls == classBasic && (m.id == basicPublish || m.id == basicDeliver || m.id == basicReturn || m.id == basicGetOk):
		return m.exchange + "/" + m.routingKey
	case m.cls == classQueue, m.cls == classBasic && (m.id == basicConsume || m.id == basicGet):
		return m.queue
	case m.cls == classExchange:
		return m.exchange
	}
	return ""
}

// properties decodes a content header's property list.
func parseContentHeader(p []byte) (bodySize uint64, props sdk.Object, ok bool) {
	r := &reader{b: p}
	r.u16() // class
	r.u16() // weight
	bodySize = r.u64()
	var flags []uint16
	for r.ok() && len(flags) < 4 {
		f := r.u16()
		flags = append(flags, f)
		if f&1 == 0 {
			break
		}
	}
	if !r.ok() || len(flags) == 0 {
		return bodySize, nil, false
	}
	f := flags[0]
	props = make(sdk.Object, 0, 4)
	names := [...]string{"content_type", "content_encoding", "headers", "delivery_mode", "priority",
		"correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id"}
	for i, name := range names {
		if f&(1<<(15-i)) == 0 {
			continue
		}
		var v any
		switch name {
		case "headers":
			v = r.table(0)
		case "delivery_mode", "priority":
			v = int(r.u8())
		case "timestamp":
			v = r.u64()
		default:
			v = r.shortstr()
		}
		props = append(props, sdk.Member{Key: name, Value: v})
	}
	return bodySize, props, r.ok()
}

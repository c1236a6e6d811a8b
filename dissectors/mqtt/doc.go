// Package mqtt is the built-in MQTT dissector: MQTT 3.1 ("MQIsdp"), 3.1.1
// and 5.0, every packet type, with MQTT 5 properties decoded. The wasm/
// subdirectory builds it into the WebAssembly module the kubeshark binary
// embeds; its tests run natively.
//
// Packets that open an exchange become one record with their answer:
// CONNECT→CONNACK, PUBLISH QoS 1→PUBACK, PUBLISH QoS 2→PUBREC,
// SUBSCRIBE→SUBACK, UNSUBSCRIBE→UNSUBACK, PINGREQ→PINGRESP. The QoS 2
// release handshake (PUBREL→PUBCOMP) belongs to the PUBLISH exchange and
// makes no record of its own. PUBLISH QoS 0, DISCONNECT and AUTH are one-way
// records. PUBLISH flows both ways, so acknowledgements pair by packet id
// with the PUBLISH sent in the other direction.
//
// Method is the packet type name, Path the topic of a PUBLISH (subscription
// filters are listed in mqtt_topic_filters), Status the reason code of the
// answer (CONNACK return code, first SUBACK code, MQTT 5 PUBACK/PUBREC
// code), and Failed marks reason codes of 0x80 and above or a refused
// CONNECT.
package mqtt

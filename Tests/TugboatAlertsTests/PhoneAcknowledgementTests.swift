import Foundation
import Testing
import TugboatAlerts
import TugboatCore
import TugboatStore

@Suite("Acknowledging from the phone: texts")
struct PhoneAcknowledgementTests {
    func page(kind: String, group: Int64?) -> NotificationRecord {
        var record = NotificationRecord(incident: 1, channel: "sms", recipient: "+15550100001", kind: try! NotificationKind(wire: kind), text: "x", at: Date())
        record.alertGroup = group
        return record
    }

    @Test("ACK replies: any case, whitespace around, optional #; anything else is not a code")
    func replies() {
        for body in ["ACK 12", "ack 12", "Ack #12", "  ACK  # 12 \n", "ACK12", "ack#12", "\tAcK 000012"] {
            #expect(PhoneAcknowledgement.code(inReply: body) == 12, "\(body)")
        }
        for body in ["", "ACK", "ACK #", "12", "ACK 12 thanks", "ACK twelve", "ACK -12", "ACK 0", "ACK 1.5", "ACKNOWLEDGE 12",
                     "please ACK 12", "ACK 99999999999999999999", "ACK ١٢", "ACK 1 2"] {
            #expect(PhoneAcknowledgement.code(inReply: body) == nil, "\(body)")
        }
    }

    @Test("the SMS answers: acknowledged, already, resolved, unknown code, not understood, not a paged number")
    func smsAnswers() {
        #expect(PhoneAcknowledgement.smsAnswer(code: 12, outcome: .acknowledged("front-down <pool>"))
            == "<Response><Message>Acknowledged #12: front-down &lt;pool&gt;</Message></Response>")
        #expect(PhoneAcknowledgement.smsAnswer(code: 12, outcome: .alreadyAcknowledged("front-down")).contains("already acknowledged"))
        #expect(PhoneAcknowledgement.smsAnswer(code: 12, outcome: .resolved("front-down")).contains("already resolved"))
        let unknown = PhoneAcknowledgement.smsAnswer(code: 12, outcome: .unknown)
        #expect(unknown.contains("no outage #12") && unknown.contains("reply ACK and the code"))
        let garbled = PhoneAcknowledgement.smsAnswer(code: nil, outcome: nil)
        #expect(garbled.hasPrefix("<Response><Message>Sorry") && garbled.contains("for example: ACK 7"))
        #expect(PhoneAcknowledgement.smsAnswer(code: 12, outcome: nil).contains("not one Tugboat pages"))
        let long = PhoneAcknowledgement.smsAnswer(code: 1, outcome: .acknowledged(String(repeating: "a", count: 3000)))
        #expect(long.count <= 1600 + "<Response><Message></Message></Response>".count)
    }

    @Test("the call's answers: pressed 1, another key, unknown code")
    func voiceAnswers() {
        #expect(PhoneAcknowledgement.voiceAnswer(code: 12, outcome: .acknowledged("x"))
            == "<Response><Say>Outage 12 acknowledged. Thank you.</Say></Response>")
        #expect(PhoneAcknowledgement.voiceAnswer(code: 12, outcome: nil) == "<Response><Say>Not acknowledged.</Say></Response>")
        #expect(PhoneAcknowledgement.voiceAnswer(code: nil, outcome: nil) == "<Response><Say>Not acknowledged.</Say></Response>")
        #expect(PhoneAcknowledgement.voiceAnswer(code: 12, outcome: .unknown).contains("Not acknowledged."))
        #expect(PhoneAcknowledgement.voiceAnswer(code: 12, outcome: .alreadyAcknowledged("x")).contains("already acknowledged"))
    }

    @Test("who pressed 1: the called person on Tugboat's own calls, the caller otherwise")
    func person() {
        #expect(PhoneAcknowledgement.person(inVoiceCallback: ["Direction": "outbound-api", "From": "+15550100000", "To": "+15550100001"])
            == "+15550100001")
        #expect(PhoneAcknowledgement.person(inVoiceCallback: ["Direction": "inbound", "From": "+15550100009", "To": "+15550100000"])
            == "+15550100009")
    }

    @Test("pages of an outage carry its code, except those saying it is over or acknowledged")
    func codes() {
        #expect(Message.acknowledgeCode(page(kind: "trigger", group: 7)) == 7)
        #expect(Message.acknowledgeCode(page(kind: "repeat", group: 7)) == 7)
        #expect(Message.acknowledgeCode(page(kind: "escalation", group: 7)) == 7)
        #expect(Message.acknowledgeCode(page(kind: "resolve", group: 7)) == nil)
        #expect(Message.acknowledgeCode(page(kind: "acknowledge", group: 7)) == nil)
        #expect(Message.acknowledgeCode(page(kind: "trigger", group: nil)) == nil)
    }

    @Test("an SMS ends with the instruction and stays within 1600 characters: the text is trimmed, not the instruction")
    func smsInstruction() {
        #expect(Message.smsBody("[tugboat] FIRING #3 front-down", acknowledgeCode: 12)
            == "[tugboat] FIRING #3 front-down Reply ACK 12 to acknowledge.")
        #expect(Message.smsBody("short", acknowledgeCode: nil) == "short")
        let long = Message.smsBody(String(repeating: "x", count: 2000), acknowledgeCode: 12)
        #expect(long.count == 1600)
        #expect(long.hasSuffix("x… Reply ACK 12 to acknowledge."))
    }

    @Test("a call gathers one digit, posting it to the public URL with the code; escaped; at most 4000 characters")
    func callGather() {
        let twiml = Message.twiml("[tugboat] FIRING <front> & co", acknowledgeCode: 12, publicURL: "https://tugboat.example/")
        #expect(twiml == "<Response><Gather numDigits=\"1\" action=\"https://tugboat.example/api/twilio/voice?code=12\" method=\"POST\">"
            + "<Say>Tugboat alert. FIRING &lt;front&gt; &amp; co Press 1 to acknowledge.</Say></Gather>"
            + "<Say>Not acknowledged.</Say></Response>")
        let odd = Message.twiml("x", acknowledgeCode: 1, publicURL: "https://t.example/a?b=1&c=\"2\"")
        #expect(odd.contains("action=\"https://t.example/a?b=1&amp;c=&quot;2&quot;/api/twilio/voice?code=1\""))
        let long = Message.twiml(String(repeating: "&", count: 5000), acknowledgeCode: 12, publicURL: "https://tugboat.example")
        #expect(long.count <= 4000)
        #expect(long.hasSuffix("&amp; Press 1 to acknowledge.</Say></Gather><Say>Not acknowledged.</Say></Response>"))
        #expect(Message.twiml("x", acknowledgeCode: 12, publicURL: nil) == Message.twiml("x"))
        #expect(Message.twiml("x", acknowledgeCode: nil, publicURL: "https://tugboat.example") == Message.twiml("x"))
    }
}

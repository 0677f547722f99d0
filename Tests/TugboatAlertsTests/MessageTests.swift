import Foundation
import Testing
import TugboatAlerts

@Suite("Page texts")
struct MessageTests {
    @Test("TwiML is XML-escaped and at most 4000 characters; SMS bodies at most 1600")
    func limits() {
        let twiml = Message.twiml("[tugboat] FIRING <front> & \"co\"")
        #expect(twiml == "<Response><Say>Tugboat alert. FIRING &lt;front&gt; &amp; &quot;co&quot;</Say></Response>")
        let long = Message.twiml(String(repeating: "&", count: 5000))
        #expect(long.count <= 4000)
        #expect(long.hasSuffix("&amp;</Say></Response>"))
        #expect(Message.smsBody(String(repeating: "x", count: 2000)).count == 1600)
        #expect(Message.smsBody("short") == "short")
    }
}

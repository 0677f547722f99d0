import Foundation
import Testing
import TugboatCore

@Suite("Twilio request signatures")
struct TwilioSignatureTests {
    // The example of Twilio's request-validation docs and of its helper libraries' tests
    // (twilio-python, twilio-php, twilio-csharp: RequestValidatorTest).
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    let token = "12345"
    let parameters: [(name: String, value: String)] = [
        ("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
        ("From", "+14158675309"), ("To", "+18005551212"),
    ]
    let documented = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

    @Test("HMAC-SHA1 matches RFC 2202's test cases, including a key longer than a block")
    func hmacKnownAnswers() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(HMACSHA1.authenticationCode(key: [UInt8](repeating: 0x0B, count: 20), message: Array("Hi There".utf8)))
            == "b617318655057264e28bc0b6fb378c8ef146be00")
        #expect(hex(HMACSHA1.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        #expect(hex(HMACSHA1.authenticationCode(key: [UInt8](repeating: 0xAA, count: 80),
                                                message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
    }

    @Test("Twilio's documented example: URL, then the parameters sorted by name, HMAC-SHA1 with the token, base64")
    func documentedExample() {
        #expect(TwilioSignature.signedText(url: url, parameters: parameters)
            == url + "CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212")
        #expect(TwilioSignature.compute(url: url, parameters: parameters, authToken: token) == documented)
        #expect(TwilioSignature.isValid(documented, url: url, parameters: parameters, authToken: token))
        #expect(TwilioSignature.isValid(documented, url: url, parameters: parameters.reversed(), authToken: token))
    }

    @Test("a repeated name: values sorted, each pair once (the helper libraries' duplicate vector)")
    func repeatedNames() {
        let repeated: [(name: String, value: String)] = [
            ("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234"),
        ]
        #expect(TwilioSignature.compute(url: url, parameters: repeated, authToken: token) == "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
    }

    @Test("a tampered URL, parameter, token or signature is refused")
    func tampered() {
        func valid(_ signature: String?, url: String? = nil, parameters: [(name: String, value: String)]? = nil,
                   token: String? = nil) -> Bool {
            TwilioSignature.isValid(signature, url: url ?? self.url, parameters: parameters ?? self.parameters, authToken: token ?? self.token)
        }
        #expect(!valid(documented, url: "http://mycompany.com/myapp.php?foo=1&bar=2"))
        #expect(!valid(documented, url: "https://mycompany.com/myapp.php?foo=1&bar=3"))
        #expect(!valid(documented, url: "https://mycompany.com/myapp.php"))
        #expect(!valid(documented, url: "https://evil.example/myapp.php?foo=1&bar=2"))
        #expect(!valid(documented, parameters: parameters.map { $0.name == "Digits" ? ($0.name, "1") : $0 }))
        #expect(!valid(documented, parameters: parameters + [("Body", "ACK 1")]))
        #expect(!valid(documented, parameters: Array(parameters.dropLast())))
        #expect(!valid(documented, token: "12346"))
        #expect(!valid(documented, token: ""))
        #expect(!valid(nil))
        #expect(!valid(""))
        #expect(!valid("RSOYDt4T1cUTdK1PDd93/VVr8B8"))
        #expect(!valid("rsoydt4t1cutdk1pdd93/vvr8b8="))
        #expect(!valid(documented + "="))
    }

    @Test("the scheme's default port may be written out or left out; another port may not")
    func defaultPort() {
        let signed = TwilioSignature.compute(url: "https://tugboat.example:443/api/twilio/sms", parameters: parameters, authToken: token)
        #expect(TwilioSignature.isValid(signed, url: "https://tugboat.example/api/twilio/sms", parameters: parameters, authToken: token))
        #expect(!TwilioSignature.isValid(signed, url: "https://tugboat.example:8443/api/twilio/sms", parameters: parameters, authToken: token))
        #expect(TwilioSignature.defaultPortVariant(of: "http://127.0.0.1/x?y=1") == "http://127.0.0.1:80/x?y=1")
        #expect(TwilioSignature.defaultPortVariant(of: "https://[::1]:443?q") == "https://[::1]?q")
        #expect(TwilioSignature.defaultPortVariant(of: "https://h:9000/x") == nil)
    }

    @Test("form bodies: + is a space, percent escapes decode, order and repeats are kept; encoding round-trips")
    func formFields() {
        let fields = FormFields.parse("Body=ACK+%2312&From=%2B15550100001&Empty=&Digits=1&Digits=2")
        #expect(fields.map(\.name) == ["Body", "From", "Empty", "Digits", "Digits"])
        #expect(fields.map(\.value) == ["ACK #12", "+15550100001", "", "1", "2"])
        let original: [(name: String, value: String)] = [("Body", "Ack 12 & more = ü"), ("To", "+1 555")]
        let again = FormFields.parse(FormFields.encode(original))
        #expect(again.map(\.name) == original.map(\.name))
        #expect(again.map(\.value) == original.map(\.value))
    }
}

import Synchronization

/// The ``TwilioCallbackSettings`` in force: each callback reads them when it arrives, and a
/// config reload that changes a Twilio channel or `alerts.public-url` replaces them.
package final class TwilioCallbacks: Sendable {
    private let settings: Mutex<TwilioCallbackSettings>

    package init(_ settings: TwilioCallbackSettings = TwilioCallbackSettings()) {
        self.settings = Mutex(settings)
    }

    package var current: TwilioCallbackSettings { settings.withLock { $0 } }

    package func replace(_ settings: TwilioCallbackSettings) {
        self.settings.withLock { $0 = settings }
    }
}

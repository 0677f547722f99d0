import TugboatAlerts
import TugboatCore

extension AlertsConfig {
    /// One `backend-down` rule paging the `log` channel at once (no start-up grace, no group wait).
    static var backendDownToLog: AlertsConfig {
        var config = AlertsConfig()
        config.channels = ["log": .log]
        var down = AlertRule(name: "backend-down", condition: .backendDown)
        down.channels = ["log"]
        config.rules = [down]
        config.startupGrace = .zero
        config.group?.wait = .zero
        return config
    }
}

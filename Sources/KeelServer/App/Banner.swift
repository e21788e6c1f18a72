import KeelCore

enum Banner {
    static func render(_ r: BootstrapResult, config: KeelConfig, passwordWasGenerated: Bool) -> String {
        let base = config.baseURL
        let line = String(repeating: "=", count: 72)
        return """
        \(line)
          Keel is ready. This is shown once: store these credentials now.

          Workspace : \(r.workspace.name) (\(r.workspace.id.rawValue))
          E-mail    : \(r.user.email)
          Password  : \(passwordWasGenerated ? r.password : "(from KEEL_ADMIN_PASSWORD)")
          API key   : \(r.apiKeySecret)
          Base URL  : \(base)/api/v1

          Try it:
            curl -H "Authorization: Bearer \(r.apiKeySecret)" \(base)/api/v1/workspace
        \(line)
        """
    }
}

# frozen_string_literal: true

# Crash flame graphs for a Ruby app behind Tugboat: samples the app with stackprof (raw mode) and
# pushes the samples to Tugboat's push route about every second, as stackprof's own JSON. An app
# killed hard runs no exit hooks, so the samples go out while it lives, not at exit.
#
#   require_relative "tugboat_stackprof"
#   use TugboatStackprof,
#       url: "http://127.0.0.1:8081/api/instances/127.0.0.1:#{port}/stacks",
#       token: ENV["TUGBOAT_PUSH_TOKEN"]        # profiling.push-token: never the admin token
#
# Tugboat's side: `profiling: { source: push, window: 15s, push-token: ${TUGBOAT_PUSH_TOKEN} }`.
# Needs the stackprof gem (Debian: ruby-stackprof). A push that fails is dropped (the next one
# carries the next second); the app is never slowed by Tugboat being away beyond `timeout`.

require "json"
require "net/http"
require "stackprof"
require "uri"

class TugboatStackprof
  # mode: :cpu (time on the CPU, the default) or :wall; interval in microseconds.
  def initialize(app, url:, token: nil, every: 1.0, mode: :cpu, interval: 1000, timeout: 2)
    @app = app
    @uri = URI(url)
    @token = token
    @every = every
    @mode = mode
    @interval = interval
    @timeout = timeout
    @sampler = Thread.new { sample_forever }
  end

  def call(env)
    @app.call(env)
  end

  private

  def sample_forever
    loop do
      StackProf.start(mode: @mode, raw: true, interval: @interval)
      sleep @every
      StackProf.stop
      results = StackProf.results
      push(results) if results && results[:raw] && !results[:raw].empty?
    rescue StandardError => e
      warn "tugboat_stackprof: #{e.class}: #{e.message}"
      sleep @every
    end
  end

  def push(results)
    request = Net::HTTP::Post.new(@uri, "Content-Type" => "application/json")
    request["Authorization"] = "Bearer #{@token}" if @token && !@token.empty?
    request.body = JSON.generate(results)
    Net::HTTP.start(@uri.host, @uri.port, use_ssl: @uri.scheme == "https",
                                          open_timeout: @timeout, read_timeout: @timeout) do |http|
      response = http.request(request)
      warn "tugboat_stackprof: push answered #{response.code}: #{response.body}" unless response.code.start_with?("2")
    end
  end
end

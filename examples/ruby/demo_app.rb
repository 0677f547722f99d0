# frozen_string_literal: true

# A small Rack app for trying crash flame graphs with Ruby: `ruby demo_app.rb PORT`.
# /health answers ok; /work?ms=N burns N ms of CPU in RubyDemo#burn_cpu; /crash ends the process
# at once with exit!(3) (no exit hooks run, as in a hard crash). With TUGBOAT_ADMIN_URL set it
# pushes its stackprof samples to Tugboat (TUGBOAT_PUSH_TOKEN: profiling.push-token).

require "rack"
require "webrick"
require_relative "tugboat_stackprof"

class RubyDemo
  def call(env)
    request = Rack::Request.new(env)
    case request.path_info
    when "/health" then [200, { "content-type" => "text/plain" }, ["ok\n"]]
    when "/work" then [200, { "content-type" => "text/plain" }, ["spun #{burn_cpu(request.params.fetch("ms", "10").to_i)}\n"]]
    when "/crash" then exit!(3)
    else [200, { "content-type" => "text/plain" }, ["hello from ruby\n"]]
    end
  end

  # The hot method a flame graph of this app shows.
  def burn_cpu(milliseconds)
    finish = Process.clock_gettime(Process::CLOCK_MONOTONIC) + milliseconds / 1000.0
    spins = 0
    spins += 1 while Process.clock_gettime(Process::CLOCK_MONOTONIC) < finish
    spins
  end
end

port = Integer(ARGV.fetch(0))
app = RubyDemo.new
if (admin = ENV["TUGBOAT_ADMIN_URL"]) && !admin.empty?
  app = TugboatStackprof.new(app, url: "#{admin}/api/instances/127.0.0.1:#{port}/stacks", token: ENV["TUGBOAT_PUSH_TOKEN"])
end
Rack::Handler::WEBrick.run(app, Host: "127.0.0.1", Port: port, AccessLog: [],
                                Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN))

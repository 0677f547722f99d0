import TugboatRedis

/// The Lua scripts: every change and its version bump (and the epoch check) run atomically.
enum ClusterScripts {
    /// Refuses the write when ARGV[1] (an epoch, or '' for no check) is older than KEYS[n].
    private static func fence(epochKey: String) -> String {
        """
        if ARGV[1] ~= '' then
          local current = tonumber(redis.call('GET', \(epochKey)) or '0')
          if tonumber(ARGV[1]) < current then
            return redis.error_reply('STALE_EPOCH ' .. ARGV[1] .. ' ' .. current)
          end
        end
        """
    }

    /// KEYS: instances, count, version, epoch. ARGV: epoch or '', channel, address, JSON.
    /// Returns the new version.
    static let upsert = RedisScript(
        fence(epochKey: "KEYS[4]") + """

        redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
        redis.call('SET', KEYS[2], redis.call('HLEN', KEYS[1]))
        local version = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[2], version)
        return version
        """
    )

    /// KEYS: instances, count, version, epoch. ARGV: epoch or '', channel, address.
    /// Returns {removed 0|1, version}.
    static let remove = RedisScript(
        fence(epochKey: "KEYS[4]") + """

        if redis.call('HDEL', KEYS[1], ARGV[3]) == 0 then
          return {0, tonumber(redis.call('GET', KEYS[3]) or '0')}
        end
        redis.call('SET', KEYS[2], redis.call('HLEN', KEYS[1]))
        local version = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[2], version)
        return {1, version}
        """
    )

    /// KEYS: version, instances. Returns {version, {address, JSON, …}}.
    static let read = RedisScript(
        """
        return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('HGETALL', KEYS[2])}
        """
    )

    /// Puts a node's last snapshot back after Redis lost its data (restart without persistence):
    /// only when the stored version is older. KEYS: instances, count, version. ARGV: channel,
    /// version, then address, JSON pairs. Returns 1 when restored.
    static let restore = RedisScript(
        """
        local wanted = tonumber(ARGV[2])
        if tonumber(redis.call('GET', KEYS[3]) or '0') >= wanted then return 0 end
        redis.call('DEL', KEYS[1])
        for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        redis.call('SET', KEYS[2], redis.call('HLEN', KEYS[1]))
        redis.call('SET', KEYS[3], wanted)
        redis.call('PUBLISH', ARGV[1], wanted)
        return 1
        """
    )

    /// KEYS: leader, epoch. ARGV: node, ttl ms, lowest epoch to exceed. `SET NX PX`, and when
    /// set (or still ours after a local step-down) a new epoch, above both the stored one and
    /// ARGV[3] (so terms keep growing even if Redis lost the epoch key). Returns {1|0, epoch, holder}.
    static let acquire = RedisScript(
        """
        local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
        if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
          local holder = redis.call('GET', KEYS[1])
          if holder ~= ARGV[1] then return {0, epoch, holder} end
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        epoch = redis.call('INCR', KEYS[2])
        local floor = tonumber(ARGV[3])
        if epoch <= floor then
          epoch = floor + 1
          redis.call('SET', KEYS[2], epoch)
        end
        return {1, epoch, ARGV[1]}
        """
    )

    /// KEYS: leader, epoch. ARGV: node, ttl ms, epoch. Compare-and-PEXPIRE: 1 when the lease is
    /// still ours in this term.
    static let renew = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[3] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """
    )

    /// KEYS: leader. ARGV: node. Compare-and-DEL.
    static let release = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """
    )

    /// KEYS: incidents, epoch. ARGV: epoch or '', field, JSON ('' deletes the field).
    static let incident = RedisScript(
        fence(epochKey: "KEYS[2]") + """

        if ARGV[3] == '' then return redis.call('HDEL', KEYS[1], ARGV[2]) end
        return redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
        """
    )

    /// KEYS: silences, silence-id. ARGV: most silences, JSON. A new id (`INCR`) and the silence
    /// under it; refused when the hash is full. Returns the id.
    static let createSilence = RedisScript(
        """
        local count = redis.call('HLEN', KEYS[1])
        if count >= tonumber(ARGV[1]) then
          return redis.error_reply('TOO_MANY_SILENCES ' .. count .. ' silences stored, at most ' .. ARGV[1])
        end
        local id = redis.call('INCR', KEYS[2])
        redis.call('HSET', KEYS[1], id, ARGV[2])
        return id
        """
    )

    /// KEYS: silences. ARGV: most silences, most bytes of one. Returns `HGETALL`, with a value
    /// over the limit replaced by its length (so it never crosses the wire); an error when there
    /// are too many.
    static let readSilences = RedisScript(
        """
        local count = redis.call('HLEN', KEYS[1])
        if count > tonumber(ARGV[1]) then
          return redis.error_reply('TOO_MANY_SILENCES ' .. count .. ' silences stored, at most ' .. ARGV[1] .. ' are read')
        end
        local all = redis.call('HGETALL', KEYS[1])
        local limit = tonumber(ARGV[2])
        for i = 2, #all, 2 do
          if #all[i] > limit then all[i] = #all[i] end
        end
        return all
        """
    )
}

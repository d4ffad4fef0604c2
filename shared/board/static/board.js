// The board's only script, progressive: without it the pages are complete
// and show times in UTC. With it, times are shown in the viewer's time zone
// and the page refreshes its content in place when the data changes,
// announced by /events (server-sent events).
(function () {
  'use strict';
  var main = document.getElementById('main');
  var status = document.getElementById('live');
  if (!main) {
    return;
  }

  function localTimes(root) {
    var times = root.querySelectorAll('time[datetime]');
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime())) {
        continue;
      }
      t.title = t.getAttribute('datetime');
      t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    }
  }

  // After a refresh, give focus back to the same link (or element id) and
  // reopen the same details, so a keyboard user keeps their place.
  function remember() {
    var a = document.activeElement;
    var open = [];
    var ds = main.querySelectorAll('details[open][id]');
    for (var i = 0; i < ds.length; i++) {
      open.push(ds[i].id);
    }
    return {
      id: a && main.contains(a) ? a.id : '',
      href: a && main.contains(a) ? a.getAttribute('href') : null,
      text: a && main.contains(a) ? a.textContent : '',
      open: open
    };
  }

  function restore(s) {
    for (var i = 0; i < s.open.length; i++) {
      var d = document.getElementById(s.open[i]);
      if (d) {
        d.open = true;
      }
    }
    var el = null;
    if (s.id) {
      el = document.getElementById(s.id);
    } else if (s.href !== null) {
      var links = main.querySelectorAll('a[href]');
      for (var j = 0; j < links.length && !el; j++) {
        if (links[j].getAttribute('href') === s.href && links[j].textContent === s.text) {
          el = links[j];
        }
      }
    }
    if (el) {
      el.focus();
    }
  }

  var busy = false;
  var again = false;

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(location.pathname + location.search, { headers: { 'X-Board-Fragment': '1' }, cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) {
          throw new Error('HTTP ' + r.status);
        }
        var v = r.headers.get('X-Board-Version');
        return r.text().then(function (html) {
          var kept = remember();
          // The fragment was rendered and escaped by the server's
          // html/template, like the page it replaces.
          main.innerHTML = html;
          if (v) {
            main.setAttribute('data-version', v);
          }
          localTimes(main);
          restore(kept);
          say('Live · updated ' + new Date().toLocaleTimeString());
        });
      })
      .catch(function (e) {
        say('Could not refresh (' + e.message + '); retrying on the next change');
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function changed(v) {
    if (v && v !== main.getAttribute('data-version')) {
      refresh();
    }
  }

  function poll(every) {
    say('Live (checking every ' + Math.round(every / 1000) + ' s)');
    setInterval(function () {
      fetch('/version', { cache: 'no-store' })
        .then(function (r) { return r.json(); })
        .then(function (j) { changed(j.version); })
        .catch(function () {});
    }, every);
  }

  localTimes(document);
  if (main.getAttribute('data-live') === 'events' && window.EventSource) {
    var es = new EventSource('/events');
    es.addEventListener('version', function (e) {
      changed(e.data);
    });
    es.onopen = function () {
      say('Live');
    };
    es.onerror = function () {
      say('Reconnecting…');
    };
  } else {
    poll(Math.max(1000, parseInt(main.getAttribute('data-poll-ms'), 10) || 2000));
  }
}());

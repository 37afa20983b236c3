// Progressive enhancement for the admin console: every page works without this file.
// Live preview of the public-room rule, and a live status page. No inline script anywhere
// (the console's CSP allows scripts from 'self' only).
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  // Guests page: "which of these room names match" while typing.
  var regexp = document.querySelector('[data-preview=regexp]');
  var names = document.querySelector('[data-preview=names]');
  var preview = document.getElementById('preview');
  if (regexp && names && preview) {
    var timer = null;
    var update = function () {
      var url = '/admin/guests/preview?regexp=' + encodeURIComponent(regexp.value) +
        '&names=' + encodeURIComponent(names.value);
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (doc) {
          preview.textContent = '';
          regexp.setAttribute('aria-invalid', doc.valid ? 'false' : 'true');
          if (!doc.valid) {
            preview.appendChild(text('p', doc.error, 'error'));
            return;
          }
          var ul = text('ul', '', 'preview');
          doc.rows.forEach(function (row) {
            var li = document.createElement('li');
            li.className = row.match ? 'match' : 'nomatch';
            li.appendChild(text('code', row.name));
            li.appendChild(document.createTextNode(' — ' + row.label));
            ul.appendChild(li);
          });
          preview.appendChild(ul);
        })
        .catch(function () {});
    };
    var schedule = function () {
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    };
    regexp.addEventListener('input', schedule);
    names.addEventListener('input', schedule);
  }

  // Status page: refresh without a reload.
  var status = document.querySelector('[data-refresh]');
  if (status) {
    var refresh = function () {
      fetch(status.getAttribute('data-refresh'), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { if (r.status !== 200) throw new Error(String(r.status)); return r.json(); })
        .then(function (doc) {
          var body = document.getElementById('modules');
          body.textContent = '';
          doc.modules.forEach(function (m) {
            var tr = document.createElement('tr');
            var th = text('th', m.id);
            th.scope = 'row';
            tr.appendChild(th);
            var td = document.createElement('td');
            td.appendChild(text('span', m.state_label, 'state ' + m.state));
            tr.appendChild(td);
            tr.appendChild(text('td', m.detail));
            body.appendChild(tr);
          });
          document.getElementById('rooms-summary').textContent = doc.rooms_summary;
          var rooms = document.getElementById('rooms');
          rooms.textContent = '';
          if (doc.rooms.length === 0) {
            var empty = document.createElement('tr');
            var cell = text('td', doc.no_rooms, 'muted');
            cell.colSpan = 2;
            empty.appendChild(cell);
            rooms.appendChild(empty);
          }
          doc.rooms.forEach(function (room) {
            var tr = document.createElement('tr');
            var th = text('th', room.name);
            th.scope = 'row';
            tr.appendChild(th);
            var td = document.createElement('td');
            room.people.forEach(function (p) {
              var span = text('span', p.name, 'person');
              if (p.guest) {
                span.appendChild(document.createTextNode(' '));
                span.appendChild(text('span', doc.guest_label, 'tag'));
              }
              td.appendChild(span);
            });
            tr.appendChild(td);
            rooms.appendChild(tr);
          });
          var log = document.getElementById('warnings');
          log.textContent = '';
          if (doc.warnings.length === 0) log.appendChild(text('li', doc.no_warnings, 'muted'));
          doc.warnings.forEach(function (w) {
            var li = document.createElement('li');
            li.appendChild(text('time', w.time));
            li.appendChild(document.createTextNode(' '));
            li.appendChild(text('span', w.level, 'state ' + w.level));
            li.appendChild(document.createTextNode(' '));
            li.appendChild(text('code', w.logger));
            li.appendChild(document.createTextNode(' ' + w.message));
            log.appendChild(li);
          });
          var updated = document.querySelector('#status-updated time');
          if (updated) updated.textContent = doc.updated;
          status.setAttribute('data-refreshed', String(Date.now()));
        })
        .catch(function () {});
    };
    setInterval(refresh, 5000);
  }
})();

// Optional help on the reset pages; every page works without it (the server checks everything).
// A "show passwords" switch, and a mismatch said as soon as the second password is typed.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var form = document.querySelector('form[data-new-password]');
  if (!form) return;
  var password = form.querySelector('#password');
  var confirm = form.querySelector('#password_confirm');
  var template = document.getElementById('show-passwords');
  if (template && 'content' in template) {
    var toggle = template.content.cloneNode(true);
    form.insertBefore(toggle, form.querySelector('button[type="submit"]'));
    form.querySelector('[data-show-passwords]').addEventListener('change', function (event) {
      var type = event.target.checked ? 'text' : 'password';
      password.type = type;
      confirm.type = type;
    });
  }
  function check() {
    var differ = confirm.value !== '' && confirm.value !== password.value;
    confirm.setCustomValidity(differ ? confirm.getAttribute('data-mismatch') : '');
  }
  password.addEventListener('input', check);
  confirm.addEventListener('input', check);
});

(function(){
var box=document.getElementById('text'),marks=box.getElementsByTagName('mark');
var toggle=document.getElementById('heat-toggle');
function setHeat(on){box.classList.toggle('heat',on);document.body.classList.toggle('heat-on',on);}
toggle.addEventListener('change',function(){setHeat(toggle.checked);});
if(location.hash==='#heat'){toggle.checked=true;setHeat(true);}
function findMark(off){var lo=0,hi=marks.length-1;
  while(lo<hi){var mid=(lo+hi+1)>>1;if(+marks[mid].dataset.s<=off)lo=mid;else hi=mid-1;}
  return marks[lo];}
function locate(mark,k){var w=document.createTreeWalker(mark,NodeFilter.SHOW_TEXT),node,last=null;
  while((node=w.nextNode())){last=node;var d=node.data,i=0;
    while(i<d.length&&k>0){var c=d.charCodeAt(i);i+=(c>=0xD800&&c<0xDC00)?2:1;k--;}
    if(i<d.length)return [node,i];}
  return last?[last,last.data.length]:null;}
function jump(off){if(!marks.length)return;var m=findMark(off);
  var p=locate(m,off-(+m.dataset.s));if(!p)return;
  var r=document.createRange();r.setStart(p[0],p[1]);
  r.setEnd(p[0],Math.min(p[0].data.length,p[1]+40));
  var sel=window.getSelection();sel.removeAllRanges();sel.addRange(r);
  var rect=r.getBoundingClientRect(),b=box.getBoundingClientRect();
  box.scrollTop+=rect.top-b.top-box.clientHeight/3;
  box.dataset.jumped=String(off);}
window.textklJump=jump;
function cp(d,n){var k=0;for(var i=0;i<n;i++){var c=d.charCodeAt(i);if(c<0xDC00||c>0xDFFF)k++;}
  return k;}
function offsetAt(x,y){var r=document.caretRangeFromPoint&&document.caretRangeFromPoint(x,y);
  if(!r||r.startContainer.nodeType!==3)return null;
  var node=r.startContainer,m=node.parentElement.closest('mark');if(!m)return null;
  var w=document.createTreeWalker(m,NodeFilter.SHOW_TEXT),t,k=+m.dataset.s;
  while((t=w.nextNode())&&t!==node)k+=cp(t.data,t.data.length);
  return k+cp(node.data,r.startOffset);}
var chart=document.getElementById('chart'),baseShapes=null;
box.addEventListener('click',function(ev){if(!baseShapes||!window.getSelection().isCollapsed)return;
  var off=offsetAt(ev.clientX,ev.clientY);if(off===null)return;box.dataset.cursor=String(off);
  Plotly.relayout(chart,{shapes:baseShapes.concat([{type:'line',xref:'x',yref:'paper',x0:off,
    x1:off,y0:0,y1:1,line:{color:'#1b1b1b',width:1.5}}])});});
if(!TEXTKL_FIG.data.length){chart.style.display='none';window.textklReady=true;return;}
Plotly.newPlot(chart,TEXTKL_FIG.data,TEXTKL_FIG.layout,
  {displaylogo:false,responsive:true,modeBarButtonsToRemove:['select2d','lasso2d']})
.then(function(){
  chart.on('plotly_click',function(ev){if(ev&&ev.points&&ev.points.length)
    jump(Math.round(ev.points[0].x));});
  baseShapes=(TEXTKL_FIG.layout.shapes||[]).slice();window.textklReady=true;});
})();
